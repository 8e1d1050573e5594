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
    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;
    /// <summary>Silo-to-silo port of the primary silo, for <c>localhost</c> clustering with several silos.</summary>
    public int PrimarySiloPort { get; set; } = 11111;
    public int HttpPort { get; set; } = 8080;
    /// <summary>Address the silo advertises; loopback unless deployed across machines.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";
}
