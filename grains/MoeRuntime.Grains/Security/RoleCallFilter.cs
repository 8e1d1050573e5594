using MoeRuntime.Security;

namespace MoeRuntime.Grains.Security;

/// <summary>
/// Checks every incoming grain call against <see cref="GrainRoleTable"/>: establishes the caller's role from the
/// proofs the call carries (<see cref="CallerAuthentication"/>), refuses with <see cref="MoePermissionDeniedException"/>
/// when the role is too low, and otherwise runs the call with <see cref="MoeCaller.Current"/> set.
/// </summary>
public sealed class RoleCallFilter(CallerAuthentication authentication) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        string interfaceName = InterfaceName(context.InterfaceMethod.DeclaringType);
        string method = context.InterfaceMethod.Name;
        MoeRole required = GrainRoleTable.Required(interfaceName, method);
        MoeCaller caller = Identify(context, interfaceName);
        if (!MoeRoles.Allows(caller.Role, required))
        {
            string what = $"{interfaceName}.{method}";
            authentication.Denied("grain_role", caller.Identity, what, $"needs '{MoeRoles.Name(required)}', has '{MoeRoles.Name(caller.Role)}'");
            throw new MoePermissionDeniedException(what, MoeRoles.Name(required), MoeRoles.Name(caller.Role));
        }
        MoeCaller? outer = MoeCaller.Current;
        MoeCaller.Current = caller;
        try
        {
            await context.Invoke();
        }
        finally
        {
            MoeCaller.Current = outer;
        }
    }

    /// <summary>The interface's name without a generic arity suffix.</summary>
    public static string InterfaceName(Type? type) => GrainRoleTable.InterfaceName(type);

    MoeCaller Identify(IIncomingGrainCallContext context, string interfaceName)
    {
        GrainId? source = context.SourceId;
        SiloAddress? silo = HostedSilo(source);
        if (authentication.Internal is { } key)
        {
            // With the internal key, only a proof under it makes a caller internal: the source id is message content.
            if (RequestContext.Get(CallProofKeys.Internal) is byte[] proof
                && key.Verify(context.TargetId.Type.AsSpan(), context.TargetId.Key.AsSpan(), context.MethodName, proof))
                return new MoeCaller(MoeRole.Internal, silo is null ? "internal" : $"internal:{silo}", silo);
        }
        else if (source is not { } id || !id.IsClient() || silo is not null)
        {
            // No key (development): a grain or a silo's own services are internal as their source id says.
            return new MoeCaller(MoeRole.Internal, silo is null ? "internal" : $"internal:{silo}", silo);
        }
        if (authentication.Trust is { } trust && RequestContext.Get(CallProofKeys.Certificate) is byte[] certificate)
        {
            TrustedCertificate? signer = SignedCallProof.Verify(trust, certificate,
                RequestContext.Get(CallProofKeys.Signature) as byte[] ?? [],
                RequestContext.Get(CallProofKeys.Timestamp) is long ts ? ts : 0,
                context.TargetId.ToString(), CallProofKeys.MethodName(context.InterfaceMethod), authentication.Time.GetUtcNow(), out string? refusal);
            if (signer is not null)
                return new MoeCaller(signer.Role > MoeRole.Operator ? MoeRole.Operator : signer.Role, signer.Identity, null);
            authentication.Denied("signed_call", source?.ToString() ?? "unknown", $"{interfaceName}.{context.InterfaceMethod.Name}", refusal ?? "invalid");
        }
        return new MoeCaller(authentication.AnonymousRole, authentication.Tls ? "client:certificate" : "anonymous", null);
    }

    /// <summary>The silo whose own services made the call (Orleans' hosted client), if that is the source.</summary>
    static SiloAddress? HostedSilo(GrainId? source)
    {
        if (source is not { } id || !id.IsClient()) return null;
        string key = id.Key.ToString();
        const string Prefix = "hosted-";
        if (!key.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        try
        {
            return SiloAddress.FromParsableString(key[Prefix.Length..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
