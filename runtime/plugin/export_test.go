package plugin

// Compare exposes compare to tests.
var Compare = compare
