"""sagemaker-mlops-kit: a three-tier SageMaker MLOps platform as code."""

import os

# aws-cdk-lib runs on Node through jsii, which prints a banner on every run when the
# machine's Node release is past jsii's support window. The kit supports Node 20 and 22;
# the banner would drown the kit's own messages, so it is silenced before jsii starts.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

__version__ = "0.1.0"
