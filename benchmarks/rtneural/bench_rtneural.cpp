// RTNeural streaming benchmark for tiny recurrent models (see README.md; not part of CI).
//
// Model: LSTM or GRU (input 1, hidden H) -> Dense(H -> 1), plus a skip: y = dense(h) + x.
// Engines: xsimd backend / compile-time API, Eigen backend / compile-time API,
//          Eigen backend / run-time API.
// RTNeural chooses its backend at compile time, so build.sh compiles this one file three times:
//   -DBENCH_PART_XSIMD  (RTNEURAL_USE_XSIMD, namespace RTNeuralXsimd) -> make_xsimd_T
//   -DBENCH_PART_EIGEN  (RTNEURAL_USE_EIGEN, namespace RTNeuralEigen) -> make_eigen_T/RT
//   -DBENCH_PART_MAIN   (no RTNeural) -> weights, input, timing, report
// The two RTNeural builds live in different namespaces (RTNEURAL_NAMESPACE), so they link together.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

// ---------------------------------------------------------------- shared by all parts
constexpr int kBlock = 64; // host block size; irrelevant to a sample-by-sample engine

struct Runner { // one engine holding one model
    virtual ~Runner() = default;
    virtual void reset() = 0;
    virtual void process(const float* x, float* y, int n) = 0;
};

// PyTorch layout (nn.LSTM / nn.GRU gate order, row-major), plus the Dense (nn.Linear H -> 1).
struct TorchWeights {
    bool gru = false;
    int H = 0;
    std::vector<float> w_ih, w_hh, b_ih, b_hh; // [G*H x 1], [G*H x H], [G*H], [G*H]; G = 4 or 3
    std::vector<float> lin_w; // [1 x H]
    float lin_b = 0.f;
};

using Factory = std::unique_ptr<Runner> (*)(const TorchWeights&);
std::unique_ptr<Runner> make_xsimd_T(const TorchWeights&);
std::unique_ptr<Runner> make_eigen_T(const TorchWeights&);
std::unique_ptr<Runner> make_eigen_RT(const TorchWeights&);
std::string xsimd_info();
std::string eigen_info();

#if defined(BENCH_PART_XSIMD) || defined(BENCH_PART_EIGEN)
// ---------------------------------------------------------------- engine parts
#include <RTNeural/RTNeural.h>
namespace rtn = RTNEURAL_NAMESPACE;

namespace {
// PyTorch -> RTNeural shapes, as RTNeural::torch_helpers::loadLSTM/loadGRU/loadDense do:
// W[in][G*H] and U[H][G*H] are the transposes; GRU swaps the r and z blocks (torch r,z,n ->
// RTNeural z,r,h) and keeps both biases; LSTM (same i,f,g,o order) sums b_ih + b_hh.
struct RtnWeights {
    std::vector<std::vector<float>> W, U, b_gru, dense_W;
    std::vector<float> b_lstm;
    float dense_b;
    explicit RtnWeights(const TorchWeights& t) {
        const int H = t.H, GH = (t.gru ? 3 : 4) * H;
        W.assign(1, std::vector<float>(GH));
        U.assign(H, std::vector<float>(GH));
        for (int j = 0; j < GH; ++j) {
            W[0][j] = t.w_ih[j];
            for (int k = 0; k < H; ++k) U[k][j] = t.w_hh[j * H + k];
        }
        b_gru = {t.b_ih, t.b_hh};
        b_lstm.resize(GH);
        for (int j = 0; j < GH; ++j) b_lstm[j] = t.b_ih[j] + t.b_hh[j];
        if (t.gru)
            for (auto* rows : {&W, &U, &b_gru})
                for (auto& r : *rows) std::swap_ranges(r.begin(), r.begin() + H, r.begin() + H);
        dense_W = {t.lin_w};
        dense_b = t.lin_b;
    }
};

template <bool GRU, class Rec>
void set_recurrent(Rec& rec, const RtnWeights& w) {
    rec.setWVals(w.W);
    rec.setUVals(w.U);
    if constexpr (GRU) rec.setBVals(w.b_gru); else rec.setBVals(w.b_lstm);
}

template <class Model>
inline void process_blocks(Model& m, const float* x, float* y, int n) {
    for (int start = 0; start < n; start += kBlock) { // consecutive 64-sample host blocks
        const int end = std::min(n, start + kBlock);
        for (int i = start; i < end; ++i) y[i] = m.forward(&x[i]) + x[i]; // skip connection
    }
}

template <bool GRU, int H> // compile-time API
struct RunnerT final : Runner {
    using Rec = std::conditional_t<GRU, rtn::GRULayerT<float, 1, H>, rtn::LSTMLayerT<float, 1, H>>;
    rtn::ModelT<float, 1, 1, Rec, rtn::DenseT<float, H, 1>> m;
    explicit RunnerT(const RtnWeights& w) {
        set_recurrent<GRU>(m.template get<0>(), w);
        m.template get<1>().setWeights(w.dense_W);
        m.template get<1>().setBias(&w.dense_b);
    }
    void reset() override { m.reset(); }
    void process(const float* x, float* y, int n) override { process_blocks(m, x, y, n); }
};

template <bool GRU>
std::unique_ptr<Runner> make_T(const RtnWeights& w, int H) {
    switch (H) {
        case 8: return std::make_unique<RunnerT<GRU, 8>>(w);
        case 16: return std::make_unique<RunnerT<GRU, 16>>(w);
        case 32: return std::make_unique<RunnerT<GRU, 32>>(w);
        case 64: return std::make_unique<RunnerT<GRU, 64>>(w);
        default: return nullptr;
    }
}

std::unique_ptr<Runner> make_compile_time(const TorchWeights& t) {
    const RtnWeights w(t);
    return t.gru ? make_T<true>(w, t.H) : make_T<false>(w, t.H);
}
} // namespace

#if defined(BENCH_PART_XSIMD)
std::unique_ptr<Runner> make_xsimd_T(const TorchWeights& t) { return make_compile_time(t); }
std::string xsimd_info() {
    return std::string("xsimd arch ") + xsimd::default_arch::name() + ", batch<float> size " +
           std::to_string(xsimd::batch<float>::size) + ", RTNEURAL_DEFAULT_ALIGNMENT " +
           std::to_string(RTNEURAL_DEFAULT_ALIGNMENT);
}
#else
namespace {
struct RunnerRT final : Runner { // run-time API: layers built and added at run time
    rtn::Model<float> m {1};
    explicit RunnerRT(const TorchWeights& t) {
        const RtnWeights w(t);
        if (t.gru) {
            auto* rec = new rtn::GRULayer<float>(1, t.H);
            set_recurrent<true>(*rec, w);
            m.addLayer(rec);
        } else {
            auto* rec = new rtn::LSTMLayer<float>(1, t.H);
            set_recurrent<false>(*rec, w);
            m.addLayer(rec);
        }
        auto* dense = new rtn::Dense<float>(t.H, 1);
        dense->setWeights(w.dense_W);
        dense->setBias(&w.dense_b);
        m.addLayer(dense); // Model owns (deletes) its layers
    }
    void reset() override { m.reset(); }
    void process(const float* x, float* y, int n) override { process_blocks(m, x, y, n); }
};
} // namespace
std::unique_ptr<Runner> make_eigen_T(const TorchWeights& t) { return make_compile_time(t); }
std::unique_ptr<Runner> make_eigen_RT(const TorchWeights& t) { return std::make_unique<RunnerRT>(t); }
std::string eigen_info() {
    return std::string("Eigen ") + std::to_string(EIGEN_WORLD_VERSION) + "." +
           std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) + " (" +
           Eigen::SimdInstructionSetsInUse() + "), RTNEURAL_DEFAULT_ALIGNMENT " +
           std::to_string(RTNEURAL_DEFAULT_ALIGNMENT);
}
#endif

#elif defined(BENCH_PART_MAIN)
// ---------------------------------------------------------------- main part
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include "build_info.h" // generated by build.sh: BENCH_RTNEURAL_COMMIT, BENCH_XSIMD_COMMIT, BENCH_FLAGS

namespace {
constexpr int kSampleRate = 44100; // 1 s of audio

struct Engine { const char* name; Factory make; };
const Engine kEngines[] = {{"xsimd, compile-time (ModelT)", make_xsimd_T},
                           {"Eigen, compile-time (ModelT)", make_eigen_T},
                           {"Eigen, run-time (Model)", make_eigen_RT}};
constexpr int kNumEngines = 3;

double now_ms(clockid_t clk) {
    timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

TorchWeights make_weights(bool gru, int H, unsigned seed) { // PyTorch init: U(-1/sqrt(H), 1/sqrt(H))
    std::mt19937 rng(seed);
    const float k = 1.f / std::sqrt(float(H));
    std::uniform_real_distribution<float> u(-k, k);
    auto draw = [&](size_t n) { std::vector<float> v(n); for (auto& e : v) e = u(rng); return v; };
    TorchWeights t;
    t.gru = gru;
    t.H = H;
    const int GH = (gru ? 3 : 4) * H;
    t.w_ih = draw(GH); t.w_hh = draw(size_t(GH) * H); t.b_ih = draw(GH); t.b_hh = draw(GH);
    t.lin_w = draw(H); t.lin_b = draw(1)[0];
    return t;
}

struct Stats { double med, lo, hi; };
Stats summarize(const std::vector<double>& round_medians) {
    auto mm = std::minmax_element(round_medians.begin(), round_medians.end());
    return {median(round_medians), *mm.first, *mm.second};
}

struct Result { std::string model; int H; Stats cpu, wall; double checksum, maxdiff, maxdiff64; bool finite, repro; };

void json_array(std::FILE* f, const char* key, const float* v, size_t n, bool last = false) {
    std::fprintf(f, "    \"%s\": [", key);
    for (size_t i = 0; i < n; ++i) std::fprintf(f, "%s%.9g", i ? ", " : "", v[i]);
    std::fprintf(f, "]%s\n", last ? "" : ",");
}
} // namespace

int main(int argc, char** argv) {
    int rounds = 3, runs = 20, warmup = 3;
    unsigned seed = 1234;
    std::string csv_path, dump_path, only;
    for (int i = 1; i < argc; ++i) {
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", argv[i]); std::exit(2); }
            return argv[++i];
        };
        if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(next());
        else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(next());
        else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(next());
        else if (!std::strcmp(argv[i], "--seed")) seed = unsigned(std::atoi(next()));
        else if (!std::strcmp(argv[i], "--csv")) csv_path = next();
        else if (!std::strcmp(argv[i], "--dump")) dump_path = next();
        else if (!std::strcmp(argv[i], "--models")) only = "," + std::string(next()) + ",";
        else {
            std::fprintf(stderr, "usage: %s [--rounds 3] [--runs 20] [--warmup 3] [--seed 1234]\n"
                                 "          [--csv out.csv] [--dump outputs.json] [--models LSTM8,GRU8,...]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || runs < 1 || warmup < 0) { std::fprintf(stderr, "bad --rounds/--runs/--warmup\n"); return 2; }

    // Input: 1 s of seeded Gaussian noise, scaled to RMS exactly 0.1.
    std::vector<float> x(kSampleRate);
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.f, 1.f);
    double ss = 0;
    for (auto& v : x) { v = g(rng); ss += double(v) * v; }
    const double scale = 0.1 / std::sqrt(ss / x.size());
    for (auto& v : x) v = float(v * scale);

    std::printf("RTNeural %s, xsimd %s, %s, flags: %s, CPU: %s, 1 thread\n", BENCH_RTNEURAL_COMMIT,
                BENCH_XSIMD_COMMIT, "g++ " __VERSION__, BENCH_FLAGS, cpu_model().c_str());
    std::printf("%s; %s\n", xsimd_info().c_str(), eigen_info().c_str());
    std::printf("1 s of audio (%d samples, Gaussian noise RMS 0.1), sample by sample in %d-sample blocks; "
                "%d warm-up runs, %d rounds x %d timed runs; median of round medians [min..max], "
                "ms of compute per s of audio\n\n", kSampleRate, kBlock, warmup, rounds, runs);

    std::FILE* dump = dump_path.empty() ? nullptr : std::fopen(dump_path.c_str(), "w");
    if (!dump_path.empty() && !dump) { std::perror(dump_path.c_str()); return 1; }
    if (dump) std::fprintf(dump, "{\n  \"seed\": %u, \"sample_rate\": %d, \"n_dumped\": %d,\n", seed, kSampleRate, kBlock);

    std::vector<Result> results[kNumEngines];
    int model_idx = 0;
    for (bool gru : {false, true}) {
        for (int H : {8, 16, 32, 64}) {
            const std::string name = std::string(gru ? "GRU" : "LSTM") + std::to_string(H);
            ++model_idx;
            if (!only.empty() && only.find("," + name + ",") == std::string::npos) continue;
            const TorchWeights tw = make_weights(gru, H, seed + 100u * model_idx);
            std::unique_ptr<Runner> eng[kNumEngines];
            std::vector<float> y[kNumEngines], ref[kNumEngines];
            std::vector<double> cpu_med[kNumEngines], wall_med[kNumEngines];
            for (int e = 0; e < kNumEngines; ++e) {
                eng[e] = kEngines[e].make(tw);
                y[e].assign(x.size(), 0.f);
                for (int w = 0; w < warmup; ++w) { eng[e]->reset(); eng[e]->process(x.data(), y[e].data(), int(x.size())); }
                eng[e]->reset();
                eng[e]->process(x.data(), y[e].data(), int(x.size()));
                ref[e] = y[e]; // output of a fresh run, to check that reset() restores the state
            }
            for (int r = 0; r < rounds; ++r) { // rounds interleave the engines, so load drifts hit all
                for (int e = 0; e < kNumEngines; ++e) {
                    std::vector<double> cpu(runs), wall(runs);
                    for (int k = 0; k < runs; ++k) {
                        eng[e]->reset();
                        const double c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
                        const auto w0 = std::chrono::steady_clock::now();
                        eng[e]->process(x.data(), y[e].data(), int(x.size()));
                        const auto w1 = std::chrono::steady_clock::now();
                        cpu[k] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
                        wall[k] = std::chrono::duration<double, std::milli>(w1 - w0).count();
                    }
                    cpu_med[e].push_back(median(cpu));
                    wall_med[e].push_back(median(wall));
                }
            }
            for (int e = 0; e < kNumEngines; ++e) {
                Result res {name, H, summarize(cpu_med[e]), summarize(wall_med[e]), 0, 0, 0, true, y[e] == ref[e]};
                for (size_t n = 0; n < x.size(); ++n) {
                    res.checksum += std::fabs(double(y[e][n]));
                    res.finite = res.finite && std::isfinite(y[e][n]);
                    for (int o = 0; o < kNumEngines; ++o) { // largest difference to any other engine
                        const double d = std::fabs(double(y[e][n]) - y[o][n]);
                        res.maxdiff = std::max(res.maxdiff, d);
                        if (n < size_t(kBlock)) res.maxdiff64 = std::max(res.maxdiff64, d);
                    }
                }
                results[e].push_back(res);
            }
            if (dump) { // PyTorch state_dict layout (rec = nn.LSTM/nn.GRU, lin = nn.Linear), x and y
                std::fprintf(dump, "  \"%s\": {\n    \"hidden\": %d,\n", name.c_str(), H);
                json_array(dump, "rec.weight_ih_l0", tw.w_ih.data(), tw.w_ih.size());
                json_array(dump, "rec.weight_hh_l0", tw.w_hh.data(), tw.w_hh.size());
                json_array(dump, "rec.bias_ih_l0", tw.b_ih.data(), tw.b_ih.size());
                json_array(dump, "rec.bias_hh_l0", tw.b_hh.data(), tw.b_hh.size());
                json_array(dump, "lin.weight", tw.lin_w.data(), tw.lin_w.size());
                json_array(dump, "lin.bias", &tw.lin_b, 1);
                json_array(dump, "x", x.data(), kBlock);
                const char* keys[kNumEngines] = {"y_xsimd_T", "y_eigen_T", "y_eigen_RT"};
                for (int e = 0; e < kNumEngines; ++e) json_array(dump, keys[e], y[e].data(), kBlock, e == kNumEngines - 1);
                std::fprintf(dump, "  },\n");
            }
        }
    }
    if (dump) { std::fprintf(dump, "  \"end\": null\n}\n"); std::fclose(dump); }
    if (results[0].empty()) { std::fprintf(stderr, "no model selected\n"); return 2; }

    auto table = [&](const char* title, auto cell) {
        std::printf("%s\n\n| engine |", title);
        for (auto& r : results[0]) std::printf(" %s |", r.model.c_str());
        std::printf("\n|---|");
        for (size_t i = 0; i < results[0].size(); ++i) std::printf("---|");
        std::printf("\n");
        for (int e = 0; e < kNumEngines; ++e) {
            std::printf("| %s |", kEngines[e].name);
            for (auto& r : results[e]) std::printf(" %s |", cell(r).c_str());
            std::printf("\n");
        }
        std::printf("\n");
    };
    auto fmt = [](const char* f, double a, double b = 0, double c = 0) {
        char buf[96];
        std::snprintf(buf, sizeof buf, f, a, b, c);
        return std::string(buf);
    };
    table("Thread CPU time, ms per s of audio", [&](const Result& r) { return fmt("%.2f [%.2f..%.2f]", r.cpu.med, r.cpu.lo, r.cpu.hi); });
    table("Wall time, ms per s of audio", [&](const Result& r) { return fmt("%.2f [%.2f..%.2f]", r.wall.med, r.wall.lo, r.wall.hi); });
    table("Checksum sum|y| over 1 s", [&](const Result& r) { return fmt("%.4f", r.checksum); });
    table("Max |y - y_other_engine| over 1 s (first 64 samples)", [&](const Result& r) { return fmt("%.1e (%.1e)", r.maxdiff, r.maxdiff64); });

    bool ok = true;
    for (auto& rs : results)
        for (auto& r : rs) ok = ok && r.finite && r.repro;
    std::printf("outputs finite and identical after reset(): %s\n", ok ? "yes" : "NO");

    if (!csv_path.empty()) {
        std::FILE* f = std::fopen(csv_path.c_str(), "w");
        if (!f) { std::perror(csv_path.c_str()); return 1; }
        std::fprintf(f, "engine,model,hidden,cpu_ms_median,cpu_ms_min,cpu_ms_max,wall_ms_median,wall_ms_min,"
                        "wall_ms_max,checksum,max_abs_diff,max_abs_diff_first64,finite,rtneural,xsimd\n");
        for (int e = 0; e < kNumEngines; ++e)
            for (auto& r : results[e])
                std::fprintf(f, "\"%s\",%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.6f,%.3g,%.3g,%d,%s,%s\n", kEngines[e].name,
                             r.model.c_str(), r.H, r.cpu.med, r.cpu.lo, r.cpu.hi, r.wall.med, r.wall.lo, r.wall.hi,
                             r.checksum, r.maxdiff, r.maxdiff64, int(r.finite), BENCH_RTNEURAL_COMMIT, BENCH_XSIMD_COMMIT);
        std::fclose(f);
        std::printf("wrote %s\n", csv_path.c_str());
    }
    return ok ? 0 : 1;
}
#else
#error "compile with -DBENCH_PART_XSIMD, -DBENCH_PART_EIGEN or -DBENCH_PART_MAIN (see build.sh)"
#endif
