namespace MoeRuntime.Model.Generation;

/// <summary>The admission queue is full: the request was refused at once, before any work was done.</summary>
public sealed class AdmissionRejectedException(int queueCapacity)
    : Exception($"admission queue is full ({queueCapacity} requests waiting); retry later")
{
    public int QueueCapacity { get; } = queueCapacity;
}
