"""The tests' own support code: builders and helpers no product module needs."""
