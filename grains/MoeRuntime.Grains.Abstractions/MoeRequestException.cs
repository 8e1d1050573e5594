namespace MoeRuntime.Grains;

/// <summary>What went wrong with a request, for clients to branch on.</summary>
public enum MoeErrorCode
{
    InvalidRequest,
    UnknownModel,
    AdmissionRejected,
    DeadlineExceeded,
    Cancelled,
    ExpertFailure,
    IntegrityFailure,
    ShuttingDown,
    /// <summary>A fault of the runtime, not of the request (the batching loop failed and restarts); retrying may succeed.</summary>
    Internal,
}

/// <summary>A request failed for a reason the client can act on; crosses the wire with its code.</summary>
[GenerateSerializer, Alias("moe.MoeRequestException")]
public sealed class MoeRequestException : Exception
{
    public MoeRequestException(MoeErrorCode code, string message, Exception? inner = null)
        : base($"{code}: {message}", inner)
    {
        Code = code;
    }

    [Id(0)] public MoeErrorCode Code { get; private set; }
}
