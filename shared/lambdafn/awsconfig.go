package lambdafn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// AWSConfig is the SDK configuration of the function's environment, read
// from the environment variables a Lambda function has. It stands in for
// config.LoadDefaultConfig, which links the STS, SSO, SSO OIDC and sign-in
// clients, the IMDS client and the shared-config parser (about 2 MB of a
// bootstrap and 3 ms of package init) for credential sources a Lambda
// function never uses, and reads ~/.aws/config and ~/.aws/credentials.
//
// Honoured, with the SDK's meaning:
//   - AWS_REGION, else AWS_DEFAULT_REGION;
//   - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (what the
//     Lambda runtime sets; also AWS_ACCESS_KEY, AWS_SECRET_KEY) and
//     AWS_ACCOUNT_ID; without them, container credentials
//     (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, with
//     AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE);
//   - AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> (SQS, DYNAMODB) and
//     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
//   - AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT,
//     AWS_ACCOUNT_ID_ENDPOINT_MODE;
//   - AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_SDK_UA_APP_ID, AWS_CA_BUNDLE.
//
// Variables that would select other credentials or another configuration
// source (profiles, shared config files, web identity, defaults modes,
// endpoint discovery) are refused with an init error naming them, rather
// than ignored: a function never runs with an identity or settings other
// than the ones its environment asks for. Variables of S3, IMDS and request
// compression have no effect on SQS and DynamoDB calls and are ignored.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	return awsConfigFrom(os.Getenv)
}

// unsupportedAWSVars are SDK variables AWSConfig refuses (see AWSConfig).
var unsupportedAWSVars = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_DEFAULTS_MODE", "AWS_ENABLE_ENDPOINT_DISCOVERY", "AWS_DISABLE_CLOCK_SKEW_CORRECTION",
	"AWS_AUTH_SCHEME_PREFERENCE",
}

func awsConfigFrom(getenv func(string) string) (aws.Config, error) {
	env := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, n := range unsupportedAWSVars {
		if env(n) != "" {
			bad("%s is set, but the functions read their AWS configuration from the environment only (shared/lambdafn.AWSConfig): unset it", n)
		}
	}
	src := envSource{getenv: getenv}
	cfg := aws.Config{
		Region:        env("AWS_REGION", "AWS_DEFAULT_REGION"),
		AppID:         env("AWS_SDK_UA_APP_ID"),
		ConfigSources: []any{src},
	}
	if cfg.Region == "" {
		bad("AWS_REGION is not set")
	}

	// Credentials.
	keyID, secret := env("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), env("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	full, rel := env("AWS_CONTAINER_CREDENTIALS_FULL_URI"), env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
	switch {
	case keyID != "" && secret != "":
		cfg.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: env("AWS_SESSION_TOKEN"),
			AccountID: env("AWS_ACCOUNT_ID"), Source: "EnvConfigCredentials",
		}}
	case keyID != "" || secret != "":
		bad("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	case rel != "":
		cfg.Credentials = containerCredentials("http://169.254.170.2"+rel, getenv)
	case full != "":
		if err := checkContainerURI(full); err != nil {
			bad("AWS_CONTAINER_CREDENTIALS_FULL_URI=%q: %v", full, err)
		} else {
			cfg.Credentials = containerCredentials(full, getenv)
		}
	default:
		bad("no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_CONTAINER_CREDENTIALS_FULL_URI)")
	}

	// Endpoints, retries, TLS.
	if v := env("AWS_ENDPOINT_URL"); v != "" && !src.ignoreEndpoints() {
		cfg.BaseEndpoint = aws.String(v)
	}
	for _, n := range []string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"} {
		if _, _, err := src.flag(n); err != nil {
			bad("%v", err)
		}
	}
	switch v := env("AWS_ACCOUNT_ID_ENDPOINT_MODE"); v {
	case "", string(aws.AccountIDEndpointModePreferred), string(aws.AccountIDEndpointModeRequired), string(aws.AccountIDEndpointModeDisabled):
		cfg.AccountIDEndpointMode = aws.AccountIDEndpointMode(v)
	default:
		bad("AWS_ACCOUNT_ID_ENDPOINT_MODE=%q is not preferred, required or disabled", v)
	}
	if v := env("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad("AWS_MAX_ATTEMPTS=%q is not a whole number of at least 1", v)
		}
		cfg.RetryMaxAttempts = n
	}
	if v := env("AWS_RETRY_MODE"); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			bad("AWS_RETRY_MODE=%q: %v", v, err)
		}
		cfg.RetryMode = m
	}
	if path := env("AWS_CA_BUNDLE"); path != "" {
		pem, err := os.ReadFile(path)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			bad("AWS_CA_BUNDLE=%q: no PEM certificates could be read from it", path)
		}
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}
	if len(problems) > 0 {
		return aws.Config{}, fmt.Errorf("%w: AWS configuration: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return cfg, nil
}

// containerCredentials reads credentials from a container credentials
// endpoint, cached and refreshed five minutes before they expire (as the
// SDK's default chain does).
func containerCredentials(uri string, getenv func(string) string) aws.CredentialsProvider {
	p := endpointcreds.New(uri, func(o *endpointcreds.Options) {
		o.AuthorizationToken = strings.TrimSpace(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
		if file := strings.TrimSpace(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")); file != "" {
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(file)
				if err != nil {
					return "", fmt.Errorf("read the container authorization token: %w", err)
				}
				return strings.TrimSpace(string(b)), nil
			})
		}
	})
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute })
}

// checkContainerURI allows what the SDK allows: https anywhere, http only
// to a loopback address or the ECS and EKS credential endpoints.
func checkContainerURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme != "http" {
		return fmt.Errorf("not an http or https URL")
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && (ip.IsLoopback() || ip.Equal(net.IPv4(169, 254, 170, 2)) || ip.Equal(net.IPv4(169, 254, 170, 23)) ||
		ip.Equal(net.ParseIP("fd00:ec2::23"))) {
		return nil
	}
	return fmt.Errorf("an http URL must name a loopback address or the ECS or EKS credentials endpoint")
}

// envSource answers the SDK clients' questions about configured endpoints
// from the environment (the interfaces of aws-sdk-go-v2's
// internal/configsources, which config.EnvConfig also implements).
type envSource struct{ getenv func(string) string }

func (s envSource) flag(name string) (value, found bool, err error) {
	v := strings.TrimSpace(s.getenv(name))
	if v == "" {
		return false, false, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, fmt.Errorf("%s=%q is not true or false", name, v)
}

func (s envSource) ignoreEndpoints() bool {
	v, _, _ := s.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	return v
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s envSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return s.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
}

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SERVICE>, the service's
// SDK ID in upper case with spaces as underscores.
func (s envSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v := strings.TrimSpace(s.getenv(name)); v != "" {
		return v, true, nil
	}
	return "", false, nil
}

// GetUseFIPSEndpoint reports AWS_USE_FIPS_ENDPOINT.
func (s envSource) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	return endpointState(s, "AWS_USE_FIPS_ENDPOINT",
		aws.FIPSEndpointStateUnset, aws.FIPSEndpointStateEnabled, aws.FIPSEndpointStateDisabled)
}

// GetUseDualStackEndpoint reports AWS_USE_DUALSTACK_ENDPOINT.
func (s envSource) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	return endpointState(s, "AWS_USE_DUALSTACK_ENDPOINT",
		aws.DualStackEndpointStateUnset, aws.DualStackEndpointStateEnabled, aws.DualStackEndpointStateDisabled)
}

// endpointState maps flag name to one of an SDK endpoint setting's three
// states (unset when the variable is not set).
func endpointState[T any](s envSource, name string, unset, enabled, disabled T) (T, bool, error) {
	v, found, err := s.flag(name)
	switch {
	case !found || err != nil:
		return unset, false, err
	case v:
		return enabled, true, nil
	}
	return disabled, true, nil
}
