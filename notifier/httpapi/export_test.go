package httpapi

// The reply types that live in this package, exported for the external
// tests that compare them with the OpenAPI document.
type (
	CreatedKey = createdKey
	ErrorBody  = errorBody
)
