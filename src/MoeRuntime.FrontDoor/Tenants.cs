using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace MoeRuntime.FrontDoor;

/// <summary>
/// Who a request is for: the configured keys (hashed) mapped to tenants, each with its own limiters. With no keys
/// configured every request is the tenant <c>default</c>.
/// </summary>
public sealed class TenantDirectory : IDisposable
{
    public const string DefaultTenant = "default";

    readonly Dictionary<string, Tenant> _byHash = new(StringComparer.Ordinal);
    readonly Tenant? _open;

    public TenantDirectory(IOptions<FrontDoorOptions> options)
    {
        FrontDoorOptions o = options.Value;
        foreach (TenantOptions t in o.Tenants)
        {
            var tenant = new Tenant(t.Name, t.RequestsPerMinute, t.TokensPerMinute, t.MaxConcurrentStreams);
            foreach (string key in t.Keys)
                if (KeyHashes.TryParse(key, out string? hash)) _byHash[hash] = tenant;
        }
        if (!string.IsNullOrEmpty(o.ApiKey)) _byHash[KeyHashes.Hash(o.ApiKey)] = new Tenant(DefaultTenant, null, null, null);
        if (_byHash.Count == 0) _open = new Tenant(DefaultTenant, null, null, null);
    }

    /// <summary>True when requests need no key (nothing configured).</summary>
    public bool Open => _open is not null;

    /// <summary>The tenant <paramref name="key"/> belongs to, or null when it belongs to none.</summary>
    public Tenant? Find(string? key)
    {
        if (_open is not null) return _open;
        if (string.IsNullOrEmpty(key)) return null;
        return _byHash.GetValueOrDefault(KeyHashes.Hash(key));
    }

    public void Dispose()
    {
        foreach (Tenant t in _byHash.Values.Distinct()) t.Dispose();
        _open?.Dispose();
    }
}

/// <summary>One tenant and its limiters (none when unlimited).</summary>
public sealed class Tenant : IDisposable
{
    readonly TokenBucketRateLimiter? _requests;
    readonly TokenBucketRateLimiter? _tokens;
    readonly ConcurrencyLimiter? _streams;
    readonly int _tokensPerMinute;

    public Tenant(string name, int? requestsPerMinute, int? tokensPerMinute, int? maxConcurrentStreams)
    {
        Name = name;
        if (requestsPerMinute is int rpm) _requests = PerMinute(rpm);
        if (tokensPerMinute is int tpm)
        {
            _tokens = PerMinute(tpm);
            _tokensPerMinute = tpm;
        }
        if (maxConcurrentStreams is int streams)
            _streams = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = streams, QueueLimit = 0 });
    }

    public string Name { get; }

    /// <summary>
    /// Admits one request that may use <paramref name="tokens"/> tokens (prompt plus max_tokens), or says why not and
    /// when to retry. The returned lease holds the concurrent-stream slot until disposed.
    /// </summary>
    public Admission Admit(int tokens)
    {
        RateLimitLease? stream = null;
        if (_streams is not null)
        {
            stream = _streams.AttemptAcquire();
            if (!stream.IsAcquired)
            {
                stream.Dispose();
                return Admission.Refused("this API key's tenant already has its maximum of concurrent streams open", TimeSpan.FromSeconds(1));
            }
        }
        if (_requests is not null)
        {
            using RateLimitLease lease = _requests.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                stream?.Dispose();
                return Admission.Refused("this API key's tenant is over its requests-per-minute limit", RetryAfter(lease));
            }
        }
        if (_tokens is not null)
        {
            using RateLimitLease lease = _tokens.AttemptAcquire(Math.Clamp(tokens, 1, _tokensPerMinute));
            if (!lease.IsAcquired)
            {
                stream?.Dispose();
                return Admission.Refused("this API key's tenant is over its tokens-per-minute limit", RetryAfter(lease));
            }
        }
        return Admission.Admitted(stream);
    }

    static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) && after > TimeSpan.Zero ? after : TimeSpan.FromSeconds(1);

    /// <summary>A bucket of <paramref name="perMinute"/> that refills evenly over the minute (no faster than every 100 ms).</summary>
    static TokenBucketRateLimiter PerMinute(int perMinute)
    {
        TimeSpan period = perMinute <= 600 ? TimeSpan.FromMinutes(1) / perMinute : TimeSpan.FromMilliseconds(100);
        int perPeriod = perMinute <= 600 ? 1 : (int)Math.Ceiling(perMinute / 600.0);
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public void Dispose()
    {
        _requests?.Dispose();
        _tokens?.Dispose();
        _streams?.Dispose();
    }
}

/// <summary>The outcome of <see cref="Tenant.Admit"/>.</summary>
public sealed class Admission : IDisposable
{
    readonly RateLimitLease? _stream;

    Admission(bool ok, string? reason, TimeSpan retryAfter, RateLimitLease? stream)
    {
        IsAdmitted = ok;
        Reason = reason;
        RetryAfter = retryAfter;
        _stream = stream;
    }

    public bool IsAdmitted { get; }
    public string? Reason { get; }
    public TimeSpan RetryAfter { get; }

    internal static Admission Admitted(RateLimitLease? stream) => new(true, null, TimeSpan.Zero, stream);
    internal static Admission Refused(string reason, TimeSpan retryAfter) => new(false, reason, retryAfter, null);

    public void Dispose() => _stream?.Dispose();
}
