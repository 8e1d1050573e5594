using Microsoft.Extensions.Logging;

namespace MoeRuntime.FrontDoor;

static partial class FrontDoorLog
{
    [LoggerMessage(EventId = 1600, Level = LogLevel.Warning,
        Message = "The OpenAI front door takes requests without an API key (no Moe:FrontDoor:ApiKey or Tenants configured)")]
    public static partial void OpenAccess(ILogger logger);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Front door refused a request with {Status} ({Code}) for tenant {Tenant}: {Message}")]
    public static partial void Refused(ILogger logger, int status, string? code, string tenant, string message);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Debug, Message = "Front door request {RequestId} for tenant {Tenant} ended: {Choices} choices, {PromptTokens} prompt and {CompletionTokens} completion tokens")]
    public static partial void Completed(ILogger logger, string requestId, string tenant, int choices, int promptTokens, int completionTokens);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Information, Message = "Front door request {RequestId} for tenant {Tenant}: the client went away")]
    public static partial void ClientGone(ILogger logger, string requestId, string tenant);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Error, Message = "Front door request {RequestId} failed")]
    public static partial void Failed(ILogger logger, Exception exception, string requestId);
}
