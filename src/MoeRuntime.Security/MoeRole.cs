namespace MoeRuntime.Security;

/// <summary>
/// What a caller may do, ordered: a role passes every check a lower role passes. <see cref="Client"/> calls router
/// grains; <see cref="Operator"/> also reads and writes TierSets, controllers, placement, the balancer, prefetch and pins;
/// <see cref="Internal"/> (the silos themselves) may call everything, including expert compute and telemetry reports.
/// </summary>
public enum MoeRole
{
    /// <summary>No role: refused everything.</summary>
    None = 0,
    Client = 1,
    Operator = 2,
    Internal = 3,
}

/// <summary>The one spelling of role names, in certificates, configuration and messages.</summary>
public static class MoeRoles
{
    /// <summary>Whether a caller of role <paramref name="caller"/> may call a method needing <paramref name="required"/>.</summary>
    public static bool Allows(MoeRole caller, MoeRole required) => required != MoeRole.None && caller >= required;

    /// <summary>The lower-case name (<c>client</c>, <c>operator</c>, <c>internal</c>).</summary>
    public static string Name(MoeRole role) => role switch
    {
        MoeRole.Client => "client",
        MoeRole.Operator => "operator",
        MoeRole.Internal => "internal",
        _ => "none",
    };

    /// <summary>Reads a role name (case-insensitive); <c>false</c> for anything else, including <c>none</c>.</summary>
    public static bool TryParse(string? name, out MoeRole role)
    {
        role = name?.Trim().ToLowerInvariant() switch
        {
            "client" => MoeRole.Client,
            "operator" => MoeRole.Operator,
            "internal" => MoeRole.Internal,
            _ => MoeRole.None,
        };
        return role != MoeRole.None;
    }
}
