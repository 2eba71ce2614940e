package identity_test

import (
	"errors"
	"fmt"

	"github.com/snodo-hub/snodo/hub/identity"
)

func ExampleParse() {
	c, err := identity.Parse(" rss mra-85t10 a562s ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c) // masked: safe to log by accident
	fmt.Println(c.Kind, c.BirthYear2, c.BirthMonth, c.BirthDay, c.Female, c.Place)

	_, err = identity.Parse("RSSMRA85X10A562S")
	var ie *identity.InvalidError
	if errors.As(err, &ie) {
		fmt.Println(ie.Position, err)
	}
	// Output:
	// cf:****************
	// cf 85 12 10 false A562
	// 9 codice fiscale: position 9: month letter "X" is not one of A B C D E H L M P R S T
}
