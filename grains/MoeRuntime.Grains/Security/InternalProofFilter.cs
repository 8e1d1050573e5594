using MoeRuntime.Security;

namespace MoeRuntime.Grains.Security;

/// <summary>
/// Attaches the internal call proof to every call this silo makes (grain to grain and from its own services), when the
/// internal key is configured. The proof covers the target grain and method, so it fits no other call.
/// </summary>
public sealed class InternalProofFilter(CallerAuthentication authentication) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (authentication.Internal is not { } key) return context.Invoke();
        return WithProof(context, key);
    }

    static async Task WithProof(IOutgoingGrainCallContext context, InternalCallProof key)
    {
        RequestContext.Set(CallProofKeys.Internal, key.Create(context.TargetId.Type.AsSpan(), context.TargetId.Key.AsSpan(), context.MethodName));
        await context.Invoke();
    }
}
