package identity

// CheckCharacter returns the check letter (position 16) of a codice fiscale
// whose first 15 characters are first15, computed as DOMAIN.md says. It is
// for code that builds codici fiscali (synthetic data, tests); first15 must
// already be normalised: 15 ASCII upper-case letters or digits (omocodia
// letters included). It checks nothing else about the code — use [Parse] to
// validate one. Errors are *InvalidError and never contain the input.
func CheckCharacter(first15 string) (byte, error) {
	if err := checkLength(KindCF, first15, 15, "15 (the codice fiscale without its check character)"); err != nil {
		return 0, err
	}
	if err := checkASCII(KindCF, first15); err != nil {
		return 0, err
	}
	return cfCheck(first15), nil
}

// ProvisionalCheckDigit returns the check digit (position 11) of a
// provisional codice fiscale whose first 10 digits are first10, computed as
// DOMAIN.md says. Errors are *InvalidError and never contain the input.
func ProvisionalCheckDigit(first10 string) (byte, error) {
	if err := checkLength(KindProvisional, first10, 10, "10 digits (the provisional code without its check digit)"); err != nil {
		return 0, err
	}
	for i := 0; i < 10; i++ {
		if !isDigit(first10[i]) {
			return 0, &InvalidError{Kind: KindProvisional, Position: i + 1,
				Reason: "character " + quoteByte(first10[i]) + " is not a digit"}
		}
	}
	return provisionalCheck(first10), nil
}
