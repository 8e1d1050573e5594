namespace MoeRuntime.Client;

/// <summary>Where the cluster is: the same clustering the silos use.</summary>
public sealed record MoeClientOptions
{
    /// <summary><c>localhost</c> (gateways on this machine) or <c>redis</c> (membership in Redis).</summary>
    public string Clustering { get; init; } = "localhost";
    public string Redis { get; init; } = "localhost:6379";
    public string ClusterId { get; init; } = "moe";
    /// <summary>Gateway ports to try with <c>localhost</c> clustering.</summary>
    public int[] GatewayPorts { get; init; } = [30000];
    /// <summary>
    /// How long one call may wait for its answer, and so how long a client notices a silo that went away mid-call
    /// (a stream's polls are answered at least every 15 s, half the silo's default response timeout).
    /// <c>IRouterGrain.GenerateAsync</c>, which answers only when the whole text is done, has 10 minutes of its own.
    /// </summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// How often the client re-reads the list of live gateways (Orleans' default is one minute). A gateway whose
    /// connection breaks is dropped at once; this bounds how long a gateway the cluster declared dead without the client
    /// seeing its connection break (a partition, a host that vanished) stays on the list, and how soon a rank that
    /// joined takes client calls. Re-reading is one membership-table read.
    /// </summary>
    public TimeSpan GatewayListRefreshPeriod { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How long the client tries to open a connection to a gateway (with its handshake) before it gives up on it and
    /// takes the next one; Orleans' default, 5 s. A resumed stream whose first gateway pick vanished from the network
    /// (no refusal, unlike a killed process on a live host, which is refused at once) waits this long once, so a fast,
    /// quiet network may lower it to 1-2 s. 2 s was tried as the default and refused: on a machine at load average 84 a
    /// live silo's handshake took longer and the client could not connect at all.
    /// </summary>
    public TimeSpan OpenConnectionTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// The largest Orleans message body the client accepts from a gateway (Orleans' default is 100 MB), so a wrong or
    /// hostile answer cannot make the client buffer more than its own requests and answers need. 32 MiB holds a
    /// response of 4,096 tokens with 100 log-probability alternatives each many times over; raise it only to capture
    /// logits of a large vocabulary (tokens × vocabulary × 4 bytes).
    /// </summary>
    public int MaxMessageBodyBytes { get; init; } = 32 << 20;

    /// <summary>The least <see cref="MaxMessageBodyBytes"/> accepted.</summary>
    public const int MinMessageBodyBytes = 1 << 20;

    /// <summary>
    /// Mutual TLS to the gateways: this client's certificate with its private key (PKCS#12), issued by the cluster's CA
    /// with a role (<c>moe-role:client</c> or <c>moe-role:operator</c>). An operator certificate also signs every call,
    /// which is how the silo knows the caller is an operator (docs/security.md). Empty: no TLS.
    /// </summary>
    public string Certificate { get; init; } = "";
    public string CertificatePassword { get; init; } = "";
    /// <summary>The cluster CA's certificate (PEM or DER): the gateways must present a silo certificate it issued.</summary>
    public string CertificateAuthority { get; init; } = "";
}
