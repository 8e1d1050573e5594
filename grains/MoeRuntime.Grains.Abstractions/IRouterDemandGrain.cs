namespace MoeRuntime.Grains;

/// <summary>
/// A rank's router demand (<c>model/rank</c>, on that rank): the rows its router has sent each expert since the silo
/// started, what the balancer's locality pass reads (<c>Moe:Balancing:LocalExpertsPerLayer</c>).
/// </summary>
public interface IRouterDemandGrain : IGrainWithStringKey
{
    /// <summary>Rows per expert since the silo started, layer-major (layer × experts per layer + expert).</summary>
    Task<long[]> GetRowsAsync();
}
