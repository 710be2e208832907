package admin

// Bearer is bearer, for the tests of package admin_test.
var Bearer = bearer
