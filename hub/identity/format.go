package identity

// IsCodiceFiscale reports whether s is a valid codice fiscale, in any
// spacing or case (it is normalised first).
func IsCodiceFiscale(s string) bool {
	_, err := ParseKind(KindCF, s)
	return err == nil
}

// CheckFormat checks the JSON Schema format "codice-fiscale". Values that
// are not strings are valid, as JSON Schema format semantics want. A string
// must be a valid codice fiscale already in normalised form (upper case, no
// spaces or hyphens): the format checks stored data, which the hub
// normalises before storing.
func CheckFormat(v any) error {
	return checkStored(v, KindCF)
}

// CheckPersonalIDFormat checks the JSON Schema format "personal-id": a
// non-string is valid; a string must be an identifier of any of the four
// kinds, already in normalised form.
func CheckPersonalIDFormat(v any) error {
	return checkStored(v, "")
}

func checkStored(v any, kind Kind) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if Normalise(s) != s {
		return &InvalidError{Kind: kind, Reason: "is not in normalised form (upper case, without spaces or hyphens); normalise it with identity.Normalise before storing"}
	}
	var err error
	if kind == "" {
		_, err = Parse(s)
	} else {
		_, err = ParseKind(kind, s)
	}
	return err
}
