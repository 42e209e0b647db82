package lambdafn

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func lookup(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestAWSConfigFromLambdaEnvironment(t *testing.T) {
	cfg, err := awsConfigFrom(lookup(map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "TOKEN",
		"AWS_MAX_ATTEMPTS": "5", "AWS_RETRY_MODE": "adaptive", "AWS_SDK_UA_APP_ID": "app",
		"AWS_EC2_METADATA_DISABLED": "true", // ignored: IMDS is never used
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.RetryMaxAttempts != 5 || cfg.RetryMode != aws.RetryModeAdaptive || cfg.AppID != "app" || cfg.BaseEndpoint != nil {
		t.Errorf("cfg = %+v", cfg)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "SECRET" || creds.SessionToken != "TOKEN" {
		t.Errorf("credentials = %+v, %v", creds, err)
	}
}

// The per-service endpoint variables reach the clients as they do with
// config.LoadDefaultConfig: the service's variable wins over AWS_ENDPOINT_URL,
// and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns both off.
func TestAWSConfigEndpoints(t *testing.T) {
	base := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	for _, tc := range []struct {
		name        string
		vars        map[string]string
		sqs, dynamo string
	}{
		{"none", nil, "", ""},
		{"global", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, "http://127.0.0.1:1", "http://127.0.0.1:1"},
		{"per service", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:2",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3"}, "http://127.0.0.1:2", "http://127.0.0.1:3"},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:2",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tc.vars {
				vars[k] = v
				t.Setenv(k, v) // the clients look at AWS_ENDPOINT_URL* in the process environment too
			}
			cfg, err := awsConfigFrom(lookup(vars))
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(sqs.NewFromConfig(cfg).Options().BaseEndpoint); got != tc.sqs {
				t.Errorf("SQS endpoint %q, want %q", got, tc.sqs)
			}
			if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != tc.dynamo {
				t.Errorf("DynamoDB endpoint %q, want %q", got, tc.dynamo)
			}
		})
	}
}

func TestAWSConfigRefusesWhatItDoesNotHonour(t *testing.T) {
	_, err := awsConfigFrom(lookup(map[string]string{
		"AWS_PROFILE": "dev", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/x",
		"AWS_ACCESS_KEY_ID": "a", "AWS_MAX_ATTEMPTS": "many", "AWS_USE_FIPS_ENDPOINT": "yes",
	}))
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	for _, want := range []string{"AWS_PROFILE is set", "AWS_ROLE_ARN is set", "AWS_REGION is not set",
		"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together", `AWS_MAX_ATTEMPTS="many"`, `AWS_USE_FIPS_ENDPOINT="yes"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = awsConfigFrom(lookup(map[string]string{"AWS_REGION": "us-east-1"}))
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("no credentials: err = %v", err)
	}
	_, err = awsConfigFrom(lookup(map[string]string{"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://198.51.100.7/creds"}))
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("container URI on a public http host: err = %v", err)
	}
}

func TestAWSConfigContainerCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "tok" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"AccessKeyId":"CAKID","SecretAccessKey":"CSECRET","Token":"CTOKEN","Expiration":"2100-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsConfigFrom(lookup(map[string]string{"AWS_REGION": "us-east-1",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile}))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "CAKID" || creds.SessionToken != "CTOKEN" {
		t.Errorf("credentials = %+v, %v", creds, err)
	}
}

func TestAWSConfigCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pemOf(srv), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsConfigFrom(lookup(map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a",
		"AWS_SECRET_ACCESS_KEY": "b", "AWS_CA_BUNDLE": bundle}))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.Fatalf("a server signed by the bundle's CA: %v", err)
	}
	resp.Body.Close()
	if _, err := awsConfigFrom(lookup(map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a",
		"AWS_SECRET_ACCESS_KEY": "b", "AWS_CA_BUNDLE": filepath.Join(t.TempDir(), "missing.pem")})); err == nil {
		t.Error("a missing CA bundle is not an error")
	}
}

func pemOf(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
