namespace MoeRuntime.FrontDoor;

/// <summary>
/// A refusal in the OpenAI error shape, <c>{"error": {"message", "type", "param", "code"}}</c>, with its HTTP status
/// (and for 429 the seconds to wait).
/// </summary>
public sealed class OpenAiError(int status, string message, string type, string? param = null, string? code = null, TimeSpan? retryAfter = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public static OpenAiError BadRequest(string message, string? param, string code = "invalid_value") =>
        new(400, message, "invalid_request_error", param, code);

    public static OpenAiError FromBackend(BackendException e, string promptParam) => e.Kind switch
    {
        BackendErrorKind.InvalidRequest => new(400, e.Message, "invalid_request_error", null, "invalid_value"),
        BackendErrorKind.UnknownModel => new(404, e.Message, "invalid_request_error", "model", "model_not_found"),
        BackendErrorKind.PromptTooLong => new(413, e.Message, "invalid_request_error", promptParam, "context_length_exceeded"),
        BackendErrorKind.Overloaded => new(429, e.Message, "rate_limit_exceeded", null, "rate_limit_exceeded", e.RetryAfter ?? TimeSpan.FromSeconds(1)),
        BackendErrorKind.Unavailable => new(503, e.Message, "server_error", null, "service_unavailable"),
        BackendErrorKind.Timeout => new(504, e.Message, "server_error", null, "timeout"),
        _ => new(500, e.Message, "server_error", null, "internal_error"),
    };
}
