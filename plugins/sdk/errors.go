package sdk

import (
	"errors"
	"fmt"
)

// Class says what the hub should do about a failure.
type Class int

// The classes of failure.
const (
	// ClassFatal: the connector cannot go on; the hub stops the instance
	// and tells the admin.
	ClassFatal Class = iota
	// ClassConfig: the settings are wrong; the admin must fix them, and
	// retrying is useless.
	ClassConfig
	// ClassTransient: the system is unreachable or busy; the hub retries
	// with backoff.
	ClassTransient
)

func (c Class) String() string {
	switch c {
	case ClassConfig:
		return "config"
	case ClassTransient:
		return "transient"
	}
	return "fatal"
}

// Error is a classed failure with a message for the admin.
type Error struct {
	Class Class
	// Pointer is the JSON pointer of the setting at fault (ClassConfig).
	Pointer string
	// Message says what is wrong and what to do. It is shown to the admin
	// and logged: never put personal data in it.
	Message string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Pointer != "" {
		return fmt.Sprintf("%s error at %s: %s", e.Class, e.Pointer, msg)
	}
	return fmt.Sprintf("%s error: %s", e.Class, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// ConfigError reports wrong settings; pointer is the JSON pointer of the
// setting at fault ("" if none in particular).
func ConfigError(pointer, format string, args ...any) error {
	return &Error{Class: ClassConfig, Pointer: pointer, Message: fmt.Sprintf(format, args...)}
}

// Transient marks err as temporary: the hub will retry.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: ClassTransient, Message: err.Error(), Err: err}
}

// Transientf reports a temporary failure.
func Transientf(format string, args ...any) error {
	return &Error{Class: ClassTransient, Message: fmt.Sprintf(format, args...)}
}

// Fatal marks err as fatal: the hub stops the instance.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: ClassFatal, Message: err.Error(), Err: err}
}

// ClassOf tells the class of an error; an unclassed error is fatal.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassFatal
}
