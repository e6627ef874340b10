"""The errors a request can get, each with its HTTP status and gRPC code (TF Serving's mapping).

In: nothing. Out: ServingError and its kinds; each front end maps the class to its status. Imports
no TensorFlow, so that the batcher's configuration can be read without it.
"""

from typing import Optional


class ServingError(Exception):
  """A request the server cannot answer; the message is for the client."""
  http_status = 500
  grpc_code = 'INTERNAL'  # a grpc.StatusCode name (this module does not import grpc)


class InvalidArgument(ServingError):
  http_status = 400
  grpc_code = 'INVALID_ARGUMENT'


class NotFound(ServingError):
  http_status = 404
  grpc_code = 'NOT_FOUND'


def servable_not_found(name: str, version: Optional[int]) -> NotFound:
  """TF Serving's message for an unknown model or version."""
  wanted = f'Latest({name})' if version is None else f'Specific({name}, {version})'
  return NotFound(f'Servable not found for request: {wanted}')


class ResourceExhausted(ServingError):
  http_status = 429  # TF Serving's REST answer to RESOURCE_EXHAUSTED
  grpc_code = 'RESOURCE_EXHAUSTED'
