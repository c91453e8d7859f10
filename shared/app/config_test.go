package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestConfigFromEnvReadsTheAdaptersSettings checks that ConfigFromEnv reads
// every adapter's setting once, and that CodeKeySecret, Evidence and
// CredentialsFor hand them on as the adapters' explicit configuration.
func TestConfigFromEnvReadsTheAdaptersSettings(t *testing.T) {
	for k, v := range map[string]string{
		"TABLE_NAME": "t", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "", "DYNAMODB_ENDPOINT": "",
		"LOG_LEVEL": "", "RETENTION_DAYS": "", "OPEN_INDEX_SHARDS": "", "CODE_TTL": "",
		"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envsession",
		CodeKeySecretEnv: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:code-key-AbCdEf", SecretsManagerEndpointEnv: "http://127.0.0.1:5000",
		"EVIDENCE_BUCKET": "evidence", "S3_ENDPOINT": "",
		"EVENT_BUS_NAME": "bus", "SENDER_EMAIL": "Acme <no-reply@example.com>", "WHATSAPP_PHONE_NUMBER_ID": "phone-number-id-1", "WHATSAPP_TEMPLATE_NAME": "code",
	} {
		t.Setenv(k, v)
	}
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Credentials.AccessKeyID != "AKIDENV" || c.Credentials.SecretAccessKey != "envsecret" || c.Credentials.SessionToken != "envsession" {
		t.Errorf("credentials %+v", c.Credentials)
	}
	if c.EventBusName != "bus" || c.SenderEmail != "Acme <no-reply@example.com>" || c.WhatsAppPhoneNumberID != "phone-number-id-1" || c.WhatsAppTemplateName != "code" {
		t.Errorf("stream settings %q %q %q %q", c.EventBusName, c.SenderEmail, c.WhatsAppPhoneNumberID, c.WhatsAppTemplateName)
	}
	// Read once: a later change of the environment changes nothing.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLATER")
	secret, err := c.CodeKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	secretCreds, err := secret.Credentials.Retrieve(context.Background())
	if secret.SecretARN != "arn:aws:secretsmanager:eu-west-1:123456789012:secret:code-key-AbCdEf" || secret.Region != "eu-west-1" ||
		secret.Endpoint != "http://127.0.0.1:5000" || err != nil || secretCreds.AccessKeyID != "AKIDENV" || secretCreds.SessionToken != "envsession" {
		t.Errorf("code key secret %+v, credentials %q, %v", secret, secretCreds.AccessKeyID, err)
	}
	bucket, err := c.Evidence()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := bucket.Credentials.Retrieve(context.Background())
	if bucket.Bucket != "evidence" || bucket.Region != "eu-west-1" || bucket.BaseEndpoint != "" || err != nil || creds.AccessKeyID != "AKIDENV" {
		t.Errorf("evidence %+v, credentials %q, %v", bucket, creds.AccessKeyID, err)
	}

	// Nothing a Config prints, logs or marshals holds a secret.
	js, _ := json.Marshal(c)
	for _, shown := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), string(js)} {
		if strings.Contains(shown, "envsecret") || strings.Contains(shown, "envsession") || !strings.Contains(shown, "AKIDENV") {
			t.Errorf("a Config shows as %s", shown)
		}
	}

	// A local engine without credentials gets placeholder ones; AWS's own
	// endpoint gets the process's, even empty (refused by AWS, as before).
	none := Config{}
	if got, _ := none.CredentialsFor("http://127.0.0.1:5000").Retrieve(context.Background()); got.AccessKeyID != "local" {
		t.Errorf("local engine credentials %q, want local", got.AccessKeyID)
	}
	if _, err := none.CredentialsFor("").Retrieve(context.Background()); err == nil {
		t.Errorf("empty credentials for AWS retrieved without an error")
	}

	// The functions that need them, and only they, are told what is missing.
	if _, err := none.CodeKeySecret(); err == nil || !strings.Contains(err.Error(), "CODE_KEY_SECRET_ARN is not set") {
		t.Errorf("CodeKeySecret without an ARN: %v", err)
	}
	if _, err := none.Evidence(); err == nil || !strings.Contains(err.Error(), "EVIDENCE_BUCKET is not set") {
		t.Errorf("Evidence without a bucket: %v", err)
	}
}
