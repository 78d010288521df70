"""Schema generation outside any workspace, and post-processing: document the shared
error shape on every operation."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable error code."},
                "message": {"type": "string", "description": "What went wrong and how to fix it."},
                "fields": {"type": "object", "additionalProperties": True, "description": "Per-field messages."},
                "items": {"type": "array", "items": {"type": "object"}, "description": "Per-item errors of a batch."},
            },
            "additionalProperties": True,
        }
    },
}

STATUS_TEXT = {
    "400": "Invalid input",
    "401": "Missing or invalid API key",
    "404": "Not found (or another workspace's)",
    "409": "Conflicts with the current state",
    "429": "Rate limited",
}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if "security" in operation:  # the auth extension and SECURITY both add ApiKey: list it once
                unique = []
                for requirement in operation["security"]:
                    if requirement not in unique:
                        unique.append(requirement)
                operation["security"] = unique
            responses = operation.setdefault("responses", {})
            codes = ["400", "401", "429"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch", "delete"):
                codes.append("409")
            if method == "get" and "{" not in path:
                codes.append("404")  # a page number past the end
            for code in codes:
                existing = responses.get(code)
                responses[code] = {
                    "description": (existing or {}).get("description") or STATUS_TEXT[code],
                    "content": {"application/json": {"schema": ref}},
                }
    return result


class UnscopedSchemaGenerator(SchemaGenerator):
    """Builds the schema outside any workspace: django-filter resolves filter fields with
    ``Model._default_manager.all()``, which the fail-closed scoped managers refuse when no
    scope is open (it broke /api/schema/ and ``check --deploy``). No rows are read."""

    def get_schema(self, request=None, public=False):
        from django_scopes import scopes_disabled

        with scopes_disabled():
            return super().get_schema(request=request, public=public)
