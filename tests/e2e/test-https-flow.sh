#!/bin/bash
# test-http-flow.sh over HTTPS: a test CA made by openssl, nginx with a
# certificate it signed, HOTSPARE_CA_FILE; and certificates no one trusts refused.
HS_TEST_SCHEME=https exec "$(dirname "$0")/test-http-flow.sh"
