"""Write this project's SageMaker pipeline definition for one environment.

The project's build pipeline runs it in its Update step, once for the training environment
and once per later environment (with that environment's credentials):

    python pipeline.py --output pipeline-definition.json

It reads the project's pipeline context (the SSM parameter the project stack publishes,
named in $PIPELINE_CONTEXT_PARAMETER), uploads the step code of ./steps to the project's
bucket, and writes the definition the project stack deploys, pointing at that code. To see
the definition without AWS: `python pipeline.py --context context.json --dry-run --output out.json`.

It needs `mlops_kit` importable: the build sets PYTHONPATH to the kit's repository when this
folder lives there; a project in a repository of its own installs the kit (requirements.txt).
"""

import sys
from pathlib import Path

from mlops_kit.pipelines.context import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], seed_folder=Path(__file__).resolve().parent))
