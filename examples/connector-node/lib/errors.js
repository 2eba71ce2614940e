'use strict';

// Classed failures, as the protocol wants them: config (the admin must fix
// the settings or the file they name), transient (retry later) and fatal.
// Messages are shown to the admin and logged: they never carry personal
// data, only what is wrong, where, and what to do.

const grpc = require('@grpc/grpc-js');

class ConnectorError extends Error {
  // klass is 'config', 'transient' or 'fatal'; pointer is the JSON pointer
  // of the setting at fault ('' if none in particular); code, if given, is
  // the gRPC status code to fail a Read with (by default the class's).
  constructor(klass, pointer, message, code) {
    super(message);
    this.klass = klass;
    this.pointer = pointer || '';
    this.code = code;
  }
}

const PROBLEM_CLASS = { config: 'CLASS_CONFIG', transient: 'CLASS_TRANSIENT', fatal: 'CLASS_FATAL' };

function classOf(err) {
  return err instanceof ConnectorError ? err.klass : 'fatal';
}

function messageOf(err) {
  // An unclassed error is a bug of this connector: its own message may
  // quote data, so it is logged by the caller and replaced here.
  return err instanceof ConnectorError ? err.message : 'internal error of the connector: see its log';
}

// toProblem turns an error into a CheckResponse's Problem.
function toProblem(err) {
  return {
    class: PROBLEM_CLASS[classOf(err)],
    message: messageOf(err),
    pointer: err instanceof ConnectorError ? err.pointer : '',
  };
}

// toStatus turns an error into a gRPC status whose code carries its class:
// INVALID_ARGUMENT (or FAILED_PRECONDITION, for the state of a file the
// settings name) is config, UNAVAILABLE is transient, INTERNAL is fatal.
function toStatus(err) {
  const klass = classOf(err);
  let code = grpc.status.INTERNAL;
  if (klass === 'config') code = grpc.status.INVALID_ARGUMENT;
  if (klass === 'transient') code = grpc.status.UNAVAILABLE;
  if (err instanceof ConnectorError && err.code !== undefined) code = err.code;
  const pointer = err instanceof ConnectorError && err.pointer ? `${err.pointer}: ` : '';
  return { code, details: pointer + messageOf(err) };
}

module.exports = { ConnectorError, toProblem, toStatus, classOf };
