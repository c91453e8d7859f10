package httpapi

// The decoders, for the external tests that hold the handlers' answers to
// them (fuzz_test.go).
var (
	ParseCreateOTP   = parseCreateOTP
	ParseCreateChain = parseCreateChain
	ParseCancel      = parseCancel
)
