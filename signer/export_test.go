package signer

// DescribeKey is describeKey, for the tests of package signer_test.
var DescribeKey = describeKey
