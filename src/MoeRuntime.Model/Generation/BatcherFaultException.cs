namespace MoeRuntime.Model.Generation;

/// <summary>
/// The batching loop failed unexpectedly (a fault of the runtime, not of the request) while the request was in the running
/// batch; the loop restarts and the request may be retried. The inner exception is the loop's failure.
/// </summary>
public sealed class BatcherFaultException(Exception cause)
    : Exception("the batching loop failed unexpectedly and stopped the request; it restarts on its own, retry the request", cause);
