package localengine

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// Settings every client of a local engine uses.
const (
	// Region is the region local clients sign requests for.
	Region = "us-east-1"
	// AccessKeyID is the static access key local clients sign with.
	AccessKeyID = "local"
	// SecretAccessKey is the static secret key local clients sign with.
	SecretAccessKey = "local"
)

// NewClient returns a DynamoDB client for the local engine at endpoint (for
// example "http://127.0.0.1:8000"): static credentials, region us-east-1, and
// response checksum validation off (DynamoDB Local's error responses fail it
// and the SDK would log a spurious warning for each). optFns run last and may
// override any of these. The configuration is built by hand, so nothing is
// read from the environment or from ~/.aws.
func NewClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}
	base := func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.DisableValidateResponseChecksum = true
	}
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){base}, optFns...)...)
}

// NewStreamsClient returns a DynamoDB Streams client for the local engine at
// endpoint: both engines serve their streams on the same endpoint. optFns
// run last.
func NewStreamsClient(endpoint string, optFns ...func(*dynamodbstreams.Options)) *dynamodbstreams.Client {
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}
	return dynamodbstreams.NewFromConfig(cfg, append([]func(*dynamodbstreams.Options){func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)...)
}
