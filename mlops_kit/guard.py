"""AWS Control Tower's proactive controls as a CDK validation plugin on every synth of the CLI.

cdklabs' ``CfnGuardValidator`` bundles cfn-guard 3.1 and the Control Tower guard rules
(https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html)
and runs them over every template of the cloud assembly, pipeline stages included, after
synthesis (https://docs.aws.amazon.com/cdk/v2/guide/policy-validation-synthesis.html).
A violation fails the synth with the rule, the resource and the fix.

A rule is disabled only here, by its file name (``ct-<service>-pr-<n>``, what the plugin
matches), with the reason beside it. The plugin cannot disable a rule for one resource, so a
rule whose only failures are justified is disabled for the whole platform; where a cdk-nag
pack checks the same property with token awareness, the reason names it, so the property
stays checked on every synth.
"""

from __future__ import annotations

from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

DISABLED_RULES: dict[str, str] = {
    # CT.IAM.PR.3 iam_managed_policy_no_statements_with_full_access_check
    "ct-iam-pr-3": (
        "Fails only on the permission boundary, whose Allow */* is the ceiling that its Deny "
        "statements cut down; it grants nothing by itself (a boundary only intersects identity "
        "policies). cdk-nag's AwsSolutions-IAM5 and the persona matrix judge the grants"
    ),
    # CT.LAMBDA.PR.3 lambda_inside_vpc_check
    "ct-lambda-pr-3": (
        "Fails only on CDK's own helper Lambdas (the VPC's restrict-default-security-group provider "
        "and the AwsCustomResource that reads the S3 prefix list): they call the EC2 API once per "
        "deploy, which the VPC without internet reaches only through an endpoint nothing else needs, "
        "and handle no data; the kit's own functions are checked by NIST.800.53.R5-LambdaInsideVPC"
    ),
    # CT.S3.PR.10 s3_bucket_default_encryption_kms_check
    "ct-s3-pr-10": (
        "Fails only on the access-log bucket: S3 server access logs are delivered only to a bucket "
        "encrypted with SSE-S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html); "
        "every other bucket uses the kit's KMS key (SecureBucket)"
    ),
    # CT.S3.PR.2 s3_bucket_logging_enabled_check
    "ct-s3-pr-2": (
        "Every bucket but the access-log bucket itself logs to it, but the rule only accepts a literal "
        "or an in-stack bucket as destination: the SSM parameter reference of SharedAssets and projects "
        "fails it, and the plugin 0.0.62 then crashes reading the result (cdklabs/cdk-validator-cfnguard#178). "
        "NIST.800.53.R5-S3BucketLoggingEnabled and AwsSolutions-S1 check logging on every synth"
    ),
    # CT.CLOUDWATCH.PR.3 cloudwatch_log_group_encrypted_check
    "ct-cloudwatch-pr-3": (
        "Every log group is encrypted with the logs key, but the rule only accepts a literal or an "
        "in-stack key: the SSM parameter reference of project stacks fails it and crashes the plugin "
        "0.0.62 (cdklabs/cdk-validator-cfnguard#178). NIST.800.53.R5-CloudWatchLogGroupEncrypted "
        "checks every log group on every synth"
    ),
    # CT.S3.PR.9 s3_bucket_object_lock_enabled_check
    "ct-s3-pr-9": (
        "Object lock makes objects undeletable for the retention period, for everyone: it would defeat "
        "the data lifecycle rules, erasure requests and the sandbox teardown. Buckets are versioned "
        "and retained instead; organisations that need WORM storage add it"
    ),
    # CT.S3.PR.4 s3_event_notifications_enabled_check
    "ct-s3-pr-4": (
        "Nothing in the platform consumes bucket events: a notification needs a destination that "
        "would bill and be read by no one (lean platform). Object-level auditing is CloudTrail data "
        "events (audit.data_events), off by default for an organisation trail"
    ),
}


def control_tower_validator() -> CfnGuardValidator:
    """The Control Tower rules bundled with the plugin, less ``DISABLED_RULES``."""
    # The whole platform's results in one cfn-guard run: three accounts exceed the 1 MB default.
    return CfnGuardValidator(
        control_tower_rules_enabled=True, disabled_rules=sorted(DISABLED_RULES), max_buffer=64 * 1024 * 1024
    )
