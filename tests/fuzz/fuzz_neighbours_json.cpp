// Fuzzes delphi's neighbour file reader, `{"<latent>": [[score, neighbour], ...], ...}`
// (`records::parse_neighbours`). Invariants: an error is `errc::bad_config` naming the file; a
// table holds, for each latent key, every pair of the list that key had last, in order, with
// the neighbour index exact and the score the JSON number.
#include <autointerp/records/non_activating.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  namespace records = autointerp::records;
  std::string_view const json(reinterpret_cast<char const*>(data), size);
  auto table = records::parse_neighbours(json, "fuzz/layers.3-co-occurrence.json");
  if (!table) {
    check(table.error() == autointerp::errc::bad_config);
    check(table.error().message.find("fuzz/layers.3-co-occurrence.json") != std::string::npos);
    return 0;
  }
  // Accepted: the input is a JSON object of lists of pairs. The last key naming a latent wins.
  boost::system::error_code ec;
  boost::json::value const doc = boost::json::parse(json, ec);
  check(!ec && doc.is_object());
  std::map<std::uint32_t, boost::json::array const*> last;
  for (auto const& [key, list] : doc.as_object()) {
    std::uint64_t latent = 0;
    auto [end, err] = std::from_chars(key.data(), key.data() + key.size(), latent);
    check(err == std::errc{} && end == key.data() + key.size() && latent <= 0xffffffffu);
    last[static_cast<std::uint32_t>(latent)] = &list.as_array();
  }
  check(table->size() == last.size());
  for (auto const& [latent, list] : last) {
    auto it = table->find(latent);
    check(it != table->end() && it->second.size() == list->size());
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto const& pair = (*list)[i].as_array();
      check(pair.size() == 2);
      check(it->second[i].distance == pair[0].to_number<double>());
      boost::system::error_code nec;
      check(pair[1].to_number<std::uint32_t>(nec) == it->second[i].latent && !nec);
    }
  }
  return 0;
}
