using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Model.Generation;

/// <summary>Which finished requests a shadow candidate scores: a share chosen by request id, the same on every rank.</summary>
public static class ShadowSampling
{
    /// <summary>
    /// Whether the request <paramref name="requestId"/> is in the <paramref name="share"/> (0..1) of requests shadowed:
    /// the first 8 bytes of SHA-256("shadow:" + id) under share × 2^64, so a request resumed on another rank is chosen
    /// (or not) there too, and the choice is independent of the success-log sampling of the same id.
    /// </summary>
    public static bool Sampled(string requestId, double share)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        if (share >= 1) return true;
        if (!(share > 0)) return false;
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes("shadow:" + requestId), hash);
        return BinaryPrimitives.ReadUInt64LittleEndian(hash) < share * ulong.MaxValue;
    }
}

/// <summary>A finished request the candidate scores: the prompt as fed (resumed tokens included) and the primary's new tokens.</summary>
public sealed record ShadowSample(int[] Prompt, int[] Completion);

/// <summary>Where a <see cref="ShadowWorker"/> reports each sample's outcome.</summary>
public interface IShadowRecorder
{
    /// <summary>A sample scored: its agreement and the candidate's scoring time.</summary>
    void Scored(ShadowAgreement agreement);
    /// <summary>A sample refused because the backlog was full.</summary>
    void Dropped();
    /// <summary>A sample whose scoring threw.</summary>
    void Failed(Exception error);
}

/// <summary>
/// The one background consumer of shadow samples: a bounded backlog (an offer to a full one is dropped and counted, never
/// waited on), scored one at a time on a below-normal-priority thread, so a client's request never waits for the shadow
/// and the shadow's output goes nowhere but the recorder. Disposing it stops at the sample being scored; the rest of the
/// backlog is abandoned.
/// </summary>
public sealed class ShadowWorker : IAsyncDisposable
{
    readonly Func<ShadowSample, ShadowAgreement> _score;
    readonly IShadowRecorder _recorder;
    readonly Channel<ShadowSample> _queue;
    readonly CancellationTokenSource _stop = new();
    readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Thread _thread;
    long _scored, _dropped, _failed;
    int _disposed;

    /// <param name="score">Scores one sample; runs on the worker's thread only.</param>
    /// <param name="maxQueue">Samples waiting at most (the one being scored not counted).</param>
    public ShadowWorker(Func<ShadowSample, ShadowAgreement> score, int maxQueue, IShadowRecorder recorder)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueue, 1);
        _score = score;
        _recorder = recorder;
        _queue = Channel.CreateBounded<ShadowSample>(new BoundedChannelOptions(maxQueue)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false,
        });
        _thread = new Thread(Run) { IsBackground = true, Name = "moe-shadow", Priority = ThreadPriority.BelowNormal };
        _thread.Start();
    }

    /// <summary>Samples scored, dropped at a full backlog, and failed so far.</summary>
    public long ScoredCount => Interlocked.Read(ref _scored);
    public long DroppedCount => Interlocked.Read(ref _dropped);
    public long FailedCount => Interlocked.Read(ref _failed);
    /// <summary>Samples waiting.</summary>
    public int Backlog => _queue.Reader.Count;

    /// <summary>Queues <paramref name="sample"/> if there is room; never blocks. False (and counted as dropped) when there is none.</summary>
    public bool Offer(ShadowSample sample)
    {
        if (_queue.Writer.TryWrite(sample)) return true;
        Interlocked.Increment(ref _dropped);
        _recorder.Dropped();
        return false;
    }

    void Run()
    {
        try
        {
            ChannelReader<ShadowSample> reader = _queue.Reader;
            while (reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
            {
                while (!_stop.IsCancellationRequested && reader.TryRead(out ShadowSample? sample))
                {
                    ShadowAgreement agreement;
                    try
                    {
                        agreement = _score(sample);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        Interlocked.Increment(ref _failed);
                        _recorder.Failed(e);
                        continue;
                    }
                    Interlocked.Increment(ref _scored);
                    _recorder.Scored(agreement);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _done.TrySetResult();
        }
    }

    /// <summary>Stops taking samples, abandons the backlog and waits for the sample being scored.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        await _done.Task;
        _stop.Dispose();
    }
}

/// <summary>
/// The primary and the candidate, both whole in this process, scoring a finished request teacher-forced
/// (<see cref="SequenceScore.Of"/>) and comparing them (<see cref="ShadowAgreement.Compare"/>, greedy agreement against the
/// primary's own most likely token, so a sampled request is judged as fairly as a greedy one).
/// </summary>
public sealed class ShadowScorer(MoeModel primary, MoeModel candidate) : IDisposable
{
    public MoeModel Primary { get; } = primary;
    public MoeModel Candidate { get; } = candidate;

    public ShadowAgreement Score(ShadowSample sample) =>
        ShadowAgreement.Compare(SequenceScore.Of(Primary, sample.Prompt, sample.Completion), SequenceScore.Of(Candidate, sample.Prompt, sample.Completion),
            sample.Completion, greedyAgainstPrimaryArgmax: true);

    /// <summary>
    /// What makes <paramref name="candidate"/> incomparable with <paramref name="primary"/>: one line per difference of
    /// shape (vocabulary, layers, experts, top-k, context) or tokenizer (vocabulary, end-of-sequence ids, the encoding of
    /// a probe text); empty when they can score the same token sequences.
    /// </summary>
    public static IReadOnlyList<string> Incompatibilities(ModelConfig primary, ITextTokenizer primaryTokenizer, ModelConfig candidate, ITextTokenizer candidateTokenizer)
    {
        var problems = new List<string>();
        void Same<T>(string what, T p, T c)
        {
            if (!EqualityComparer<T>.Default.Equals(p, c)) problems.Add($"{what}: the primary has {p}, the candidate {c}");
        }
        Same("vocabulary size", primary.VocabularySize, candidate.VocabularySize);
        Same("layers", primary.LayerCount, candidate.LayerCount);
        Same("experts per layer", primary.ExpertCount, candidate.ExpertCount);
        Same("experts per token", primary.ExpertsPerToken, candidate.ExpertsPerToken);
        Same("hidden size", primary.HiddenSize, candidate.HiddenSize);
        Same("context length", primary.MaxSequenceLength, candidate.MaxSequenceLength);
        Same("tokenizer vocabulary", primaryTokenizer.VocabularySize, candidateTokenizer.VocabularySize);
        Same("end-of-sequence ids", string.Join(",", primaryTokenizer.EndOfSequenceIds), string.Join(",", candidateTokenizer.EndOfSequenceIds));
        const string Probe = "The quick brown fox jumps over the lazy dog, 0123456789 times: é, ß, 漢字.";
        if (!primaryTokenizer.Encode(Probe).SequenceEqual(candidateTokenizer.Encode(Probe)))
            problems.Add("tokenizer: the candidate encodes the same text to other token ids than the primary");
        return problems;
    }

    public void Dispose()
    {
        Primary.Dispose();
        Candidate.Dispose();
    }
}
