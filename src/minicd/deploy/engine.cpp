#include "minicd/deploy/engine.hpp"
