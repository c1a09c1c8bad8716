#pragma once

namespace minicd::deploy {}
