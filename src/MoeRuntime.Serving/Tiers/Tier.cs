namespace MoeRuntime.Serving.Tiers;

/// <summary>Where an expert's weights live on its rank.</summary>
public enum Tier
{
    /// <summary>A float32 <see cref="Model.Layers.ExpertFfn"/> on the compute device, ready for matmul.</summary>
    Hot,

    /// <summary>The expert's raw checkpoint bytes in host memory: one conversion away from hot.</summary>
    Warm,

    /// <summary>Nothing in memory: read from the checkpoint on demand and checked against its SHA-256.</summary>
    Cold,
}
