// Command hello is the smallest useful aws-lambda-go function: the baseline
// the functions' binary sizes are compared with (see package lambdabaseline).
// It is never deployed.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

// Request is the event hello answers.
type Request struct {
	Name string `json:"name"`
}

// Response is hello's answer.
type Response struct {
	Message string `json:"message"`
}

func handle(_ context.Context, req Request) (Response, error) {
	name := req.Name
	if name == "" {
		name = "world"
	}
	return Response{Message: "hello, " + name}, nil
}

func main() {
	lambda.Start(handle)
}
