"""unittest.main() that also writes Bazel's test.xml ($XML_OUTPUT_FILE), one <testcase> per
test, so that CI counts the cases and not just the target."""
import os
import sys
import unittest
from xml.sax.saxutils import quoteattr


class _Result(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []  # (name, outcome, message)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.cases.append((test.id(), "passed", ""))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.cases.append((test.id(), "failure", self._exc_info_to_string(err, test)))

    def addError(self, test, err):
        super().addError(test, err)
        self.cases.append((test.id(), "error", self._exc_info_to_string(err, test)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.cases.append((test.id(), "skipped", reason))


def _write_xml(path, cases):
    failures = sum(1 for _, o, _ in cases if o == "failure")
    errors = sum(1 for _, o, _ in cases if o == "error")
    skipped = sum(1 for _, o, _ in cases if o == "skipped")
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites><testsuite name="python" tests="%d" failures="%d" errors="%d" '
             'skipped="%d">' % (len(cases), failures, errors, skipped)]
    for name, outcome, message in cases:
        lines.append("<testcase name=%s>" % quoteattr(name))
        if outcome != "passed":
            tag = {"failure": "failure", "error": "error", "skipped": "skipped"}[outcome]
            lines.append("<%s message=%s/>" % (tag, quoteattr(message[-2000:])))
        lines.append("</testcase>")
    lines.append("</testsuite></testsuites>")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    runner = unittest.TextTestRunner(resultclass=_Result, verbosity=2)
    program = unittest.main(testRunner=runner, exit=False)
    result = program.result
    if os.environ.get("XML_OUTPUT_FILE"):
        _write_xml(os.environ["XML_OUTPUT_FILE"], result.cases)
    sys.exit(0 if result.wasSuccessful() else 1)
