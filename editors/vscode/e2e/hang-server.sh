#!/bin/sh
# A "language server" that reads its input and never answers, keeping stdout open (no `exec`: this
# shell holds it while cat discards stdin). The e2e scenarios must fail against it.
cat > /dev/null
