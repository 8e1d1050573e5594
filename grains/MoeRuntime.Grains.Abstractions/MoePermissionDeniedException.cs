namespace MoeRuntime.Grains;

/// <summary>
/// A grain call was refused because the caller's role does not allow it. Names the method (<c>Interface.Method</c>),
/// the role it needs and the role the caller has; crosses the wire to the caller.
/// </summary>
[GenerateSerializer, Alias("moe.MoePermissionDeniedException")]
public sealed class MoePermissionDeniedException : Exception
{
    public MoePermissionDeniedException(string method, string requiredRole, string callerRole)
        : base($"PermissionDenied: {method} needs the role '{requiredRole}'; the caller has '{callerRole}'")
    {
        Method = method;
        RequiredRole = requiredRole;
        CallerRole = callerRole;
    }

    /// <summary>The refused method, <c>Interface.Method</c>.</summary>
    [Id(0)] public string Method { get; private set; }

    /// <summary>The role the method needs (<c>client</c>, <c>operator</c>, <c>internal</c>).</summary>
    [Id(1)] public string RequiredRole { get; private set; }

    /// <summary>The role the caller was found to have.</summary>
    [Id(2)] public string CallerRole { get; private set; }
}
