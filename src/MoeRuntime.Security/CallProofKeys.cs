namespace MoeRuntime.Security;

/// <summary>
/// The request-context keys of the call proofs. A silo reads only these to learn who called; nothing else in a message
/// names the caller.
/// </summary>
public static class CallProofKeys
{
    /// <summary>The internal call proof (<see cref="InternalCallProof"/>), a byte array.</summary>
    public const string Internal = "moe.proof.internal";
    /// <summary>The signing certificate of a signed call (DER), a byte array.</summary>
    public const string Certificate = "moe.proof.cert";
    /// <summary>The signature of a signed call (<see cref="SignedCallProof"/>), a byte array.</summary>
    public const string Signature = "moe.proof.sig";
    /// <summary>The Unix time in seconds a signed call was signed at, a long.</summary>
    public const string Timestamp = "moe.proof.ts";

    /// <summary>The name a signed call signs for a method: <c>Interface.Method</c>, without generic arity.</summary>
    public static string MethodName(System.Reflection.MethodInfo method) => $"{GrainRoleTable.InterfaceName(method.DeclaringType)}.{method.Name}";
}
