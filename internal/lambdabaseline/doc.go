// Package lambdabaseline checks the functions' built binaries: each is
// compared in size with hello (the smallest useful aws-lambda-go function,
// built the same way in the same run) and must stay within 1.5 times it, no
// function links template or dev-only modules, and a bootstrap started
// outside Lambda exits at once with a clear message.
package lambdabaseline
