package cmdutil

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// StageConfig is the AWS configuration of --stage, --region and --profile.
func StageConfig(ctx context.Context, a *Factory) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if a.Region != "" {
		opts = append(opts, config.WithRegion(a.Region))
	}
	if a.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, Usagef("no AWS region: pass --region (REGION= for make) or set AWS_REGION")
	}
	return cfg, nil
}
