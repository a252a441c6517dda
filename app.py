#!/usr/bin/env python3
"""The CDK app: `npx cdk synth` runs this file (see cdk.json)."""

import sys

from mlops_kit.app import main

sys.exit(main())
