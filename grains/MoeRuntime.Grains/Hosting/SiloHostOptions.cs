namespace MoeRuntime.Grains.Hosting;

/// <summary>How this process joins the cluster (section <c>Silo</c>).</summary>
public sealed class SiloHostOptions
{
    public const string Section = "Silo";

    /// <summary><c>localhost</c> (one machine, the first silo is the primary) or <c>redis</c>.</summary>
    public string Clustering { get; set; } = "localhost";
    /// <summary>StackExchange.Redis connection string, for <c>redis</c> clustering.</summary>
    public string Redis { get; set; } = "localhost:6379";
    public string ClusterId { get; set; } = "moe";
    /// <summary>The silo-to-silo port this silo advertises to the others (what they connect to).</summary>
    public int SiloPort { get; set; } = 11111;
    /// <summary>
    /// The port the silo listens on for other silos when it differs from the one it advertises (<see cref="SiloPort"/>):
    /// a forwarder in between (a NAT, a proxy, the delay relay of loadtests/delay-scenario) carries the traffic from one to
    /// the other. 0 (the default) listens on <see cref="SiloPort"/>.
    /// </summary>
    public int SiloListeningPort { get; set; }
    public int GatewayPort { get; set; } = 30000;
    /// <summary>Silo-to-silo port of the primary silo, for <c>localhost</c> clustering with several silos.</summary>
    public int PrimarySiloPort { get; set; } = 11111;
    public int HttpPort { get; set; } = 8080;
    /// <summary>
    /// IP address the HTTP endpoints listen on: loopback by default; <c>0.0.0.0</c> (or <c>::</c>) for every interface.
    /// A non-loopback bind needs <see cref="HttpsCertificatePath"/> or <see cref="AllowInsecureHttp"/>.
    /// </summary>
    public string HttpBind { get; set; } = "127.0.0.1";
    /// <summary>PKCS#12 (.pfx) file of the HTTPS certificate; empty serves plain HTTP.</summary>
    public string HttpsCertificatePath { get; set; } = "";
    /// <summary>Password of <see cref="HttpsCertificatePath"/>; empty for none (prefer an environment variable to the command line).</summary>
    public string HttpsCertificatePassword { get; set; } = "";
    /// <summary>Lets a non-loopback <see cref="HttpBind"/> serve plain HTTP (tokens then cross the network in clear); logged as a warning.</summary>
    public bool AllowInsecureHttp { get; set; }
    /// <summary>Address the silo advertises; loopback unless deployed across machines.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";
}
