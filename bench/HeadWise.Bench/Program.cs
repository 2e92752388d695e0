using System.Diagnostics;
using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;

if (args.Length > 0 && args[0] is "kv" or "kv-child") return HeadWise.Bench.KvBench.Main(args);

var m = ModelLoader.Load(args[0]);
var gen = new Generator(m.Transformer);
using var cache = new FullKvCache(m.Spec, 512);
var logits = gen.Prefill(cache, [1, 400, 300]);
var sw = Stopwatch.StartNew();
for (int i = 0; i < 100; i++) logits = gen.Step(cache, [Sampler.ArgMax(logits)]);
Console.WriteLine($"step {sw.Elapsed.TotalMilliseconds / 100:F2} ms");
var tok = m.Tokenizer;
sw.Restart();
var ids = Enumerable.Range(0, 200).Select(i => 300 + i).ToList();
var st = new TextStreamer(tok, [1]);
foreach (var id in ids) st.Push(id);
Console.WriteLine($"streamer {sw.Elapsed.TotalMilliseconds / 200:F2} ms/token");
return 0;
