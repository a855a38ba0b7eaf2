"""`python -m exporter_job` runs the same CLI as `savedmodel-export`."""

from exporter_job.cli import main

raise SystemExit(main())
