# Sourced by sh_tests that need something this machine may lack (a GPU, a peer library):
#   report_skipped <suite> <case> <why>
# writes a test.xml in which the one test case is skipped (not passed) and exits 0.
report_skipped() {
  local why=${3//[<>&\"]/ }
  echo "$2: skipped ($why)"
  cat > "${XML_OUTPUT_FILE:-/dev/null}" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="$1" tests="1" skipped="1">
<testcase name="$2" status="notrun" result="skipped"><skipped message="$why"/></testcase>
</testsuite></testsuites>
XML
  exit 0
}
