using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>
/// The request lifecycle in structured logs: successes head-sampled by request id, every failure kept.
/// Never the prompt or the completion; the tenant only as a pseudonym.
/// </summary>
public static partial class RequestLog
{
    /// <summary>Whether a request's success is logged; the same id always gets the same answer.</summary>
    public static bool Sampled(string requestId, double ratio) =>
        ratio >= 1 || (ratio > 0 && BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(requestId))) < ratio * ulong.MaxValue);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} completed: {PromptTokens} prompt + {CompletionTokens} completion tokens, {FinishReason}, {DurationMs:F0} ms, first token {TtftMs:F0} ms, tenant {Tenant}")]
    public static partial void Completed(ILogger logger, string requestId, int promptTokens, int completionTokens, string finishReason, double durationMs, double ttftMs, string tenant);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} resumed after {ResumedTokens} delivered tokens ({Reason}), tenant {Tenant}")]
    public static partial void Resumed(ILogger logger, string requestId, int resumedTokens, string reason, string tenant);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} failed: {Code}: {Reason}, tenant {Tenant}")]
    public static partial void Failed(ILogger logger, string requestId, MoeErrorCode code, string reason, string tenant);
}
