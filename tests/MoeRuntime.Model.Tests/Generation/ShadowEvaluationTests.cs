using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Tests.Layers;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Model.Tests.Generation;

public class ShadowEvaluationTests
{
    static readonly string[] Ids = Enumerable.Range(0, 4000).Select(i => Guid.NewGuid().ToString("N")).ToArray();

    [Fact]
    public void SamplingIsByRequestIdAndKeepsTheShare()
    {
        Assert.DoesNotContain(Ids, id => ShadowSampling.Sampled(id, 0));
        Assert.All(Ids, id => Assert.True(ShadowSampling.Sampled(id, 1)));
        // The same id gets the same answer every time (every rank computes the same).
        Assert.All(Ids.Take(200), id => Assert.Equal(ShadowSampling.Sampled(id, 0.3), ShadowSampling.Sampled(new string(id.ToCharArray()), 0.3)));
        double share = Ids.Count(id => ShadowSampling.Sampled(id, 0.1)) / (double)Ids.Length;
        Assert.InRange(share, 0.07, 0.13);
        // Nested: a request shadowed at a smaller share is shadowed at any larger one.
        Assert.All(Ids.Where(id => ShadowSampling.Sampled(id, 0.1)), id => Assert.True(ShadowSampling.Sampled(id, 0.5)));
    }

    sealed class Recorder : IShadowRecorder
    {
        public readonly List<ShadowAgreement> Scores = [];
        public int Dropped, Failed;
        void IShadowRecorder.Scored(ShadowAgreement agreement)
        {
            lock (Scores) Scores.Add(agreement);
        }
        void IShadowRecorder.Dropped() => Interlocked.Increment(ref Dropped);
        void IShadowRecorder.Failed(Exception error) => Interlocked.Increment(ref Failed);
    }

    static ShadowAgreement One(ShadowSample s) => new(s.Completion.Length, s.Completion.Length, 0, 0, 1, [1], 0.1, 0.1);

    static async Task Eventually(Func<bool> done)
    {
        for (int i = 0; i < 500 && !done(); i++) await Task.Delay(20);
        Assert.True(done());
    }

    [Fact]
    public async Task AFullBacklogDropsAndCountsWithoutBlocking()
    {
        using var entered = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        var recorder = new Recorder();
        var worker = new ShadowWorker(s =>
        {
            entered.Release();
            release.Wait(TimeSpan.FromSeconds(30));
            return One(s);
        }, maxQueue: 3, recorder);
        await using (worker)
        {
            Assert.True(worker.Offer(new ShadowSample([1], [2])));
            Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(10)), "the worker never took the first sample");
            // The worker is busy with the first: three wait, the fourth and fifth are dropped at once.
            for (int i = 0; i < 3; i++) Assert.True(worker.Offer(new ShadowSample([1], [2, 3])));
            Assert.False(worker.Offer(new ShadowSample([1], [2])));
            Assert.False(worker.Offer(new ShadowSample([1], [2])));
            Assert.Equal(2, worker.DroppedCount);
            Assert.Equal(2, recorder.Dropped);
            Assert.Equal(3, worker.Backlog);
            release.Set();
            await Eventually(() => worker.ScoredCount == 4);
            Assert.Equal(7, recorder.Scores.Sum(a => a.Tokens));
            Assert.Equal(0, worker.Backlog);
        }
    }

    [Fact]
    public async Task AFailedScoringIsCountedAndTheWorkerGoesOn()
    {
        var recorder = new Recorder();
        await using var worker = new ShadowWorker(s => s.Completion[0] < 0 ? throw new ArgumentException("bad") : One(s), maxQueue: 8, recorder);
        Assert.True(worker.Offer(new ShadowSample([1], [-1])));
        Assert.True(worker.Offer(new ShadowSample([1], [2])));
        await Eventually(() => worker.ScoredCount + worker.FailedCount == 2);
        Assert.Equal(1, worker.FailedCount);
        Assert.Equal(1, recorder.Failed);
        Assert.Single(recorder.Scores);
    }

    [Fact]
    public async Task DisposingAbandonsTheBacklogAndStopsTakingSamples()
    {
        using var entered = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        var recorder = new Recorder();
        var worker = new ShadowWorker(s =>
        {
            entered.Release();
            release.Wait(TimeSpan.FromSeconds(30));
            return One(s);
        }, maxQueue: 4, recorder);
        worker.Offer(new ShadowSample([1], [2]));
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(10)));
        worker.Offer(new ShadowSample([1], [2]));
        ValueTask disposing = worker.DisposeAsync();
        release.Set();
        await disposing;
        Assert.Equal(1, worker.ScoredCount);
        Assert.False(worker.Offer(new ShadowSample([1], [2])));
    }

    [Fact]
    public void GreedyAgreementCanBeAgainstThePrimarysOwnMostLikelyToken()
    {
        // A sampled completion: token 9 was drawn where both models rank 4 first.
        var primary = new SequenceScore([-3f], [4], [[0, 1]], 2, TimeSpan.FromSeconds(1));
        var candidate = new SequenceScore([-3f], [4], [[0, 1]], 2, TimeSpan.FromSeconds(1));
        Assert.Equal(0.0, ShadowAgreement.Compare(primary, candidate, [9]).GreedyAgreement);
        Assert.Equal(1.0, ShadowAgreement.Compare(primary, candidate, [9], greedyAgainstPrimaryArgmax: true).GreedyAgreement);
    }

    [Fact]
    public void ACandidateOfAnotherShapeIsNamedIncompatible()
    {
        var config = TinyModelWeights.TinyConfig() with { VocabularySize = ByteLevelTokenizer.TokenCount };
        var tokenizer = new ByteLevelTokenizer();
        Assert.Empty(ShadowScorer.Incompatibilities(config, tokenizer, config, tokenizer));
        IReadOnlyList<string> problems = ShadowScorer.Incompatibilities(config, tokenizer, config with { LayerCount = config.LayerCount + 1 }, tokenizer);
        Assert.Equal($"layers: the primary has {config.LayerCount}, the candidate {config.LayerCount + 1}", Assert.Single(problems));
    }
}
