namespace MoeRuntime.Telemetry.Collection;

/// <summary>Where an expert's weights were found, fastest first; the order is the lookup order.</summary>
public enum StorageTier
{
    /// <summary>On the compute device, ready for matmul.</summary>
    Hot = 0,
    /// <summary>In host memory, one copy away.</summary>
    Warm = 1,
    /// <summary>On disk, read and integrity-checked on fetch.</summary>
    Cold = 2,
}

/// <summary>Label values of <see cref="StorageTier"/>.</summary>
public static class StorageTiers
{
    /// <summary>Number of tiers.</summary>
    public const int Count = 3;

    /// <summary>The <c>tier</c> label value of a tier.</summary>
    public static string LabelOf(StorageTier tier) => tier switch
    {
        StorageTier.Hot => "hot",
        StorageTier.Warm => "warm",
        StorageTier.Cold => "cold",
        _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, null),
    };
}
