namespace MoeRuntime.Model.Generation;

/// <summary>Whether the batching loop is taking requests, for readiness checks.</summary>
public enum BatcherHealth
{
    /// <summary>The loop runs and admits requests.</summary>
    Serving,
    /// <summary>The loop failed and waits out its back-off before it restarts; queued requests wait for it.</summary>
    Restarting,
    /// <summary>Draining for a graceful stop: running and queued requests finish, new ones are refused.</summary>
    Draining,
    /// <summary>Shut down; takes nothing.</summary>
    Stopped,
}
